-- One row per balance transaction with its charge/refund, customer and payout.
-- Version-stable: reads only columns every stripe schema version keeps.
-- Amounts stay in minor units like the source; *_major columns divide by 100
-- except for zero-decimal currencies (jpy, krw, ...), which are already whole units.
with charge as (
    select *
    from {{ source('stripe', 'charge') }}
    where not coalesce(_fivetran_deleted, false)
),

refund as (
    select *
    from {{ source('stripe', 'refund') }}
    where not coalesce(_fivetran_deleted, false)
),

payout as (
    select *
    from {{ source('stripe', 'payout') }}
    where not coalesce(_fivetran_deleted, false)
),

customer as (
    select *
    from {{ source('stripe', 'customer') }}
    where not coalesce(_fivetran_deleted, false)
)

select
    bt.id as balance_transaction_id,
    bt.created as balance_transaction_created_at,
    bt.available_on as balance_transaction_available_on,
    bt.currency as balance_transaction_currency,
    bt.type as balance_transaction_type,
    bt.reporting_category as balance_transaction_reporting_category,
    bt.status as balance_transaction_status,
    bt.source as balance_transaction_source_id,
    bt.amount as balance_transaction_amount,
    bt.fee as balance_transaction_fee,
    bt.net as balance_transaction_net,
    bt.exchange_rate,
    bt.amount / case when bt.currency in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf') then 1.0 else 100.0 end as balance_transaction_amount_major,
    bt.net / case when bt.currency in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf') then 1.0 else 100.0 end as balance_transaction_net_major,
    coalesce(charge.id, refund.charge_id) as charge_id,
    refund.id as refund_id,
    coalesce(charge.customer_id, refund_charge.customer_id) as customer_id,
    customer.email as customer_email,
    customer.name as customer_name,
    bt.payout_id,
    payout.status as payout_status,
    payout.arrival_date as payout_arrival_date,
    payout.type as payout_type
from {{ source('stripe', 'balance_transaction') }} as bt
left join charge
    on charge.balance_transaction_id = bt.id
left join refund
    on refund.balance_transaction_id = bt.id
left join charge as refund_charge
    on refund_charge.id = refund.charge_id
left join customer
    on customer.id = coalesce(charge.customer_id, refund_charge.customer_id)
left join payout
    on payout.id = bt.payout_id
where not coalesce(bt._fivetran_deleted, false)
