-- One row per live opportunity with its account and owner.
-- Drift on purpose: a connection delivering original Salesforce API names
-- (salesforce@2024-07, dbt_salesforce_source v1.1.0) renames account_id,
-- owner_id, stage_name, close_date, created_date, is_closed, is_won,
-- is_deleted, ... to AccountId, OwnerId, StageName, ..., so this model breaks there.
select
    opportunity.id as opportunity_id,
    opportunity.name as opportunity_name,
    opportunity.type,
    opportunity.stage_name,
    opportunity.amount,
    opportunity.probability,
    opportunity.expected_revenue,
    opportunity.forecast_category,
    opportunity.is_closed,
    opportunity.is_won,
    case
        when opportunity.is_won then 'Won'
        when opportunity.is_closed then 'Lost'
        else 'Pipeline'
    end as status,
    opportunity.created_date,
    opportunity.close_date,
    opportunity.fiscal_year,
    opportunity.fiscal_quarter,
    date_diff('day', cast(opportunity.created_date as date), opportunity.close_date) as days_to_close,
    opportunity.account_id,
    account.name as account_name,
    account.industry,
    account.type as account_type,
    opportunity.owner_id,
    owner.name as opportunity_owner_name,
    owner.user_role_id as opportunity_owner_role_id,
    owner.manager_id as opportunity_manager_id,
    manager.name as opportunity_manager_name
from {{ source('salesforce', 'opportunity') }} as opportunity
left join {{ source('salesforce', 'account') }} as account
    on opportunity.account_id = account.id
    and not coalesce(account.is_deleted, false)
left join {{ source('salesforce', 'user') }} as owner
    on opportunity.owner_id = owner.id
left join {{ source('salesforce', 'user') }} as manager
    on owner.manager_id = manager.id
where not coalesce(opportunity.is_deleted, false)
