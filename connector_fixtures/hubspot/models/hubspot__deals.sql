-- One row per live deal with its pipeline, stage and owner.
-- Drift on purpose: deal_pipeline_stage.closed_won is renamed to is_closed in
-- hubspot@2025-07 (dbt_hubspot_source v0.21.0), so this model breaks there.
-- closed_won is true for every closed stage (won OR lost): a deal is won only
-- when its closed stage has probability 1.
select
    deal.deal_id,
    deal.property_dealname as deal_name,
    deal.property_dealtype as deal_type,
    deal.property_amount as amount,
    deal.property_createdate as created_at,
    deal.property_closedate as closed_at,
    deal.deal_pipeline_id,
    pipeline.label as pipeline_label,
    deal.deal_pipeline_stage_id,
    stage.label as pipeline_stage_label,
    stage.display_order as pipeline_stage_order,
    stage.probability as pipeline_stage_probability,
    coalesce(stage.closed_won, false) as is_pipeline_stage_closed,
    coalesce(stage.closed_won and stage.probability = 1, false) as is_closed_won,
    coalesce(stage.closed_won and stage.probability = 0, false) as is_closed_lost,
    deal.owner_id,
    owner.email as owner_email,
    trim(coalesce(owner.first_name, '') || ' ' || coalesce(owner.last_name, '')) as owner_full_name,
    deal._fivetran_synced
from {{ source('hubspot', 'deal') }} as deal
left join {{ source('hubspot', 'deal_pipeline') }} as pipeline
    on deal.deal_pipeline_id = pipeline.pipeline_id
    and not coalesce(pipeline._fivetran_deleted, false)
left join {{ source('hubspot', 'deal_pipeline_stage') }} as stage
    on deal.deal_pipeline_stage_id = stage.stage_id
    and not coalesce(stage._fivetran_deleted, false)
left join {{ source('hubspot', 'owner') }} as owner
    on deal.owner_id = owner.owner_id
where not coalesce(deal.is_deleted, false)
  and not coalesce(deal._fivetran_deleted, false)
