-- One row per status a live ticket has been in, with the interval it held:
-- valid_from inclusive, valid_to exclusive (NULL = current status). Built from
-- ticket_field_history rows with field_name = 'status'; `updated` changes type
-- with dbt_zendesk_source v0.11.0 like ticket.created_at.
-- Status values are new, open, pending, hold, solved, closed ('on-hold' does
-- not exist: dbt_zendesk #112).
with status_changes as (
    select
        ticket_id,
        updated as valid_from,
        value as status,
        user_id as changed_by_user_id
    from {{ source('zendesk', 'ticket_field_history') }}
    where field_name = 'status'
)

select
    status_changes.ticket_id,
    status_changes.status,
    status_changes.valid_from,
    lead(status_changes.valid_from) over (
        partition by status_changes.ticket_id
        order by status_changes.valid_from
    ) as valid_to,
    status_changes.changed_by_user_id,
    tickets.group_id,
    tickets.created_channel
from status_changes
inner join {{ ref('zendesk__ticket_enriched') }} as tickets
    on tickets.ticket_id = status_changes.ticket_id
