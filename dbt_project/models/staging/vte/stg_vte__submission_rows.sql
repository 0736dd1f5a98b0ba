with

source as (

    select * from {{ source('raw', 'submission_rows') }}

),

renamed as (

    select
        submission_id,
        report_date,
        row_index,
        hospital,
        dept as department,
        discharge_hospital,
        distinct_discharge_hospital,
        discharge_hospital_nodaily,
        risk_assessment,
        init_risk_assessment,
        risk_assessment_in_daily,
        high_risk_assessment,
        high_risk_assessment_in_daily,
        repeat_risk_assessment,
        hemorrhage_risk_assessment,
        high_hemorrhage_risk_assessment,
        high_risk_low_hemorrhage,
        precaution,
        precaution_no_base,
        medicine,
        mechanical,
        base_prevent_nodaily,
        zgw_base_prevent_nodaily,
        high_vte,
        high_vte_check,
        chuyuan_vte,
        hospital_vte,
        new_dvt,
        new_pe,
        new_dvt_and_pe,
        vte_die,
        pe_die,
        surgery,
        surgery_dvt,
        surgery_pe,
        surgery_dvt_and_pe
    from source

)

select * from renamed
