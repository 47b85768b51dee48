-- One row per live ticket with its pipeline stage and owner.
-- Version-stable: the join keys (property_hs_pipeline_stage, stage_id) change
-- type together (bigint -> varchar in hubspot@2025-07), so the join keeps working.
select
    ticket.id as ticket_id,
    ticket.property_subject as subject,
    ticket.property_hs_ticket_category as category,
    ticket.property_hs_ticket_priority as priority,
    ticket.property_hs_pipeline as ticket_pipeline_id,
    ticket.property_hs_pipeline_stage as ticket_pipeline_stage_id,
    stage.label as pipeline_stage_label,
    stage.ticket_state,
    coalesce(stage.is_closed, false) as is_closed,
    ticket.property_createdate as created_at,
    ticket.property_first_agent_reply_date as first_agent_reply_at,
    ticket.property_closed_date as closed_at,
    date_diff('second', ticket.property_createdate, ticket.property_first_agent_reply_date) as seconds_to_first_reply,
    ticket.property_hubspot_owner_id as owner_id,
    owner.email as owner_email
from {{ source('hubspot', 'ticket') }} as ticket
left join {{ source('hubspot', 'ticket_pipeline_stage') }} as stage
    on ticket.property_hs_pipeline_stage = stage.stage_id
left join {{ source('hubspot', 'owner') }} as owner
    on ticket.property_hubspot_owner_id = owner.owner_id
where not coalesce(ticket.is_deleted, false)
  and not coalesce(ticket._fivetran_deleted, false)
