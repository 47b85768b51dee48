-- One row per live (not soft-deleted) ticket, with the names of its requester,
-- assignee, group, organization and brand. Modelled on dbt_zendesk's
-- zendesk__ticket_enriched (created_channel = via_channel).
--
-- Drift on purpose: created_at/updated_at are `timestamp with time zone` in
-- connector version 2023-06 and `timestamp` (naive UTC) from 2023-12
-- (dbt_zendesk_source v0.11.0). created_date is CAST(created_at AS DATE): on
-- 2023-06 that is the date in the session time zone, from 2023-12 the UTC date.
-- Neither is the reporting-zone date; boards must convert explicitly.
with tickets as (
    select *
    from {{ source('zendesk', 'ticket') }}
    where not coalesce(_fivetran_deleted, false)
),

users as (
    select id, name, role, time_zone
    from {{ source('zendesk', 'user') }}
),

agent_groups as (
    select id, name
    from {{ source('zendesk', 'group') }}
    where not coalesce(_fivetran_deleted, false)
),

organizations as (
    select id, name
    from {{ source('zendesk', 'organization') }}
),

brands as (
    select id, name
    from {{ source('zendesk', 'brand') }}
)

select
    tickets.id as ticket_id,
    tickets.created_at,
    cast(tickets.created_at as date) as created_date,
    tickets.updated_at,
    tickets.due_at,
    tickets.status,
    tickets.status in ('solved', 'closed') as is_resolved,
    tickets.priority,
    tickets.type as ticket_type,
    tickets.via_channel as created_channel,
    tickets.subject,
    tickets.problem_id,
    tickets.requester_id,
    requester.name as requester_name,
    requester.role as requester_role,
    requester.time_zone as requester_time_zone,
    tickets.assignee_id,
    assignee.name as assignee_name,
    tickets.group_id,
    agent_groups.name as group_name,
    tickets.organization_id,
    organizations.name as organization_name,
    tickets.brand_id,
    brands.name as brand_name
from tickets
left join users as requester
    on requester.id = tickets.requester_id
left join users as assignee
    on assignee.id = tickets.assignee_id
left join agent_groups
    on agent_groups.id = tickets.group_id
left join organizations
    on organizations.id = tickets.organization_id
left join brands
    on brands.id = tickets.brand_id
