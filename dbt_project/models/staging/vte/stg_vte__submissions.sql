with

source as (

    select * from {{ source('raw', 'submissions') }}

),

renamed as (

    select
        submission_id,
        institution_code,
        access_key,
        report_date,
        version,
        channel,
        received_at,
        payload_sha256,
        row_count,
        document_path,
        loaded_at
    from source

)

select * from renamed
