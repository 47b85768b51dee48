-- One row per engagement with its owner and activity time.
-- Drift on purpose: owner_id, activity_type and timestamp were dropped from
-- ENGAGEMENT by the v3 API (hubspot@2023-07, dbt_hubspot v0.11.0 / dbt_hubspot_source issue #143).
select
    engagement.id as engagement_id,
    engagement.type as engagement_type,
    engagement.activity_type,
    engagement."timestamp" as occurred_at,
    engagement.created_at,
    engagement.owner_id,
    owner.email as owner_email
from {{ source('hubspot', 'engagement') }} as engagement
left join {{ source('hubspot', 'owner') }} as owner
    on engagement.owner_id = owner.owner_id
where coalesce(engagement.active, true)
