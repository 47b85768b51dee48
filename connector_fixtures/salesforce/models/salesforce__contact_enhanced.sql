-- One row per live contact with its account and owner.
-- Version-stable: contact, account and user keep their columns in every version.
select
    contact.id as contact_id,
    contact.name as contact_name,
    contact.email,
    contact.title,
    contact.lead_source,
    contact.mailing_state_code,
    contact.created_date,
    contact.last_activity_date,
    contact.reports_to_id,
    contact.account_id,
    account.name as account_name,
    account.industry as account_industry,
    account.type as account_type,
    account.annual_revenue as account_annual_revenue,
    contact.owner_id,
    owner.name as contact_owner_name,
    owner.time_zone_sid_key as contact_owner_time_zone
from {{ source('salesforce', 'contact') }} as contact
left join {{ source('salesforce', 'account') }} as account
    on contact.account_id = account.id
    and not coalesce(account.is_deleted, false)
left join {{ source('salesforce', 'user') }} as owner
    on contact.owner_id = owner.id
where not coalesce(contact.is_deleted, false)
