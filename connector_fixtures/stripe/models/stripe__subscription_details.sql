-- One row per subscription with its customer and monthly recurring amount.
-- Written against the legacy schema ("2021-12"): it reads `subscription`,
-- `plan` and subscription.current_period_start/end, so it drifts like a real
-- package would when the connector moves to subscription_history (2023-10),
-- the Price API (2023-10) and subscription_item periods (2025-07).
with plan as (
    select *
    from {{ source('stripe', 'plan') }}
),

item_totals as (
    select
        item.subscription_id,
        count(*) as item_count,
        max(plan.currency) as plan_currency,
        -- licensed items only; metered usage is billed in arrears
        sum(
            case when plan.usage_type = 'licensed' then
                plan.amount * coalesce(item.quantity, 1)
                * case plan."interval"
                    when 'year' then 1.0 / 12
                    when 'week' then 52.0 / 12
                    when 'day' then 365.0 / 12
                    else 1.0
                  end
                / coalesce(nullif(plan.interval_count, 0), 1)
            else 0 end
        ) as monthly_amount
    from {{ source('stripe', 'subscription_item') }} as item
    join plan
        on plan.id = item.plan_id
    where not coalesce(item._fivetran_deleted, false)
    group by item.subscription_id
)

select
    subscription.id as subscription_id,
    subscription.customer_id,
    customer.email as customer_email,
    customer.name as customer_name,
    subscription.status,
    subscription.created as created_at,
    subscription.start_date as start_date_at,
    subscription.current_period_start,
    subscription.current_period_end,
    subscription.trial_start,
    subscription.trial_end,
    subscription.cancel_at,
    subscription.cancel_at_period_end,
    subscription.canceled_at,
    subscription.ended_at,
    subscription.quantity,
    item_totals.item_count,
    item_totals.plan_currency,
    item_totals.monthly_amount as monthly_amount_minor
from {{ source('stripe', 'subscription') }} as subscription
left join {{ source('stripe', 'customer') }} as customer
    on customer.id = subscription.customer_id
left join item_totals
    on item_totals.subscription_id = subscription.id
where not coalesce(subscription._fivetran_deleted, false)
