-- One row per order with refunds and line counts, after soft deletes.
-- Written against the REST schema: it reads financial_status, currency,
-- total_price and order_line_refund.subtotal, so it drifts like a real
-- package would when the GraphQL connector renames them (2025-08) and when
-- order_line_refund becomes refund_line_item (2025-12).
with refunds as (
    select
        refund.order_id,
        count(distinct refund.id) as refund_count,
        sum(line_refund.subtotal) as refund_subtotal,
        sum(line_refund.total_tax) as refund_total_tax
    from {{ source('shopify', 'order_line_refund') }} as line_refund
    join {{ source('shopify', 'refund') }} as refund
        on refund.id = line_refund.refund_id
    group by refund.order_id
),

lines as (
    select
        order_id,
        count(*) as line_item_count,
        sum(quantity) as total_quantity
    from {{ source('shopify', 'order_line') }}
    group by order_id
)

select
    orders.id as order_id,
    orders.name as order_name,
    orders.email,
    orders.customer_id,
    orders.created_at,
    orders.processed_at,
    orders.cancelled_at,
    orders.cancel_reason,
    orders.currency,
    orders.presentment_currency,
    orders.financial_status,
    orders.fulfillment_status,
    orders.source_name,
    orders.subtotal_price,
    orders.total_discounts,
    orders.total_tax,
    orders.total_price,
    coalesce(refunds.refund_count, 0) as refund_count,
    coalesce(refunds.refund_subtotal, 0) as refund_subtotal,
    coalesce(refunds.refund_total_tax, 0) as refund_total_tax,
    orders.total_price
        - coalesce(refunds.refund_subtotal, 0)
        - coalesce(refunds.refund_total_tax, 0) as order_adjusted_total,
    coalesce(lines.line_item_count, 0) as line_item_count,
    coalesce(lines.total_quantity, 0) as total_quantity,
    coalesce(orders.test, false) as is_test_order,
    orders.cancelled_at is not null as is_cancelled
from {{ source('shopify', 'order') }} as orders
left join refunds
    on refunds.order_id = orders.id
left join lines
    on lines.order_id = orders.id
where not coalesce(orders._fivetran_deleted, false)
