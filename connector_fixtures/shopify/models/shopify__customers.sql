-- One row per customer with order counts and first/last order times.
-- Version-stable: reads only customer and order columns that REST and
-- GraphQL schemas share (id, email, names, state, created_at, test, ...).
with orders as (
    select
        customer_id,
        count(*) as lifetime_count_orders,
        min(created_at) as first_order_at,
        max(created_at) as last_order_at
    from {{ source('shopify', 'order') }}
    where not coalesce(_fivetran_deleted, false)
        and not coalesce(test, false)
        and cancelled_at is null
        and customer_id is not null
    group by customer_id
)

select
    customer.id as customer_id,
    customer.email,
    customer.first_name,
    customer.last_name,
    customer.state as account_state,
    customer.currency,
    coalesce(customer.tax_exempt, false) as is_tax_exempt,
    coalesce(customer.verified_email, false) as is_verified_email,
    customer.created_at,
    customer.updated_at,
    customer.orders_count,
    customer.total_spent,
    coalesce(orders.lifetime_count_orders, 0) as lifetime_count_orders,
    orders.first_order_at,
    orders.last_order_at
from {{ source('shopify', 'customer') }} as customer
left join orders
    on orders.customer_id = customer.id
where not coalesce(customer._fivetran_deleted, false)
