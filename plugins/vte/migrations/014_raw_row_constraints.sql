-- The loader no longer walks every field in Python: it verifies each document's checksum and msgspec decodes
-- and checks the payload in one pass. Raw itself refuses what a department row can never be, as a second net:
-- types and the 32-bit range are the columns' own; these add the rest.
alter table raw.submission_rows
    add constraint submission_rows_counts_not_negative check (least(
        discharge_hospital, distinct_discharge_hospital, discharge_hospital_nodaily, risk_assessment,
        init_risk_assessment, risk_assessment_in_daily, high_risk_assessment, high_risk_assessment_in_daily,
        repeat_risk_assessment, hemorrhage_risk_assessment, high_hemorrhage_risk_assessment,
        high_risk_low_hemorrhage, precaution, precaution_no_base, medicine, mechanical, base_prevent_nodaily,
        zgw_base_prevent_nodaily, high_vte, high_vte_check, chuyuan_vte, hospital_vte, new_dvt, new_pe,
        new_dvt_and_pe, vte_die, pe_die, surgery, surgery_dvt, surgery_pe, surgery_dvt_and_pe) >= 0),
    add constraint submission_rows_names_present check (btrim(hospital) <> '' and btrim(dept) <> '');

-- A department row belongs to its submission by construction: the loader writes both in one transaction and
-- raw is insert-only for every component. The foreign key checked that again row by row, a select per row that
-- cost almost half of the load's time in PostgreSQL.
alter table raw.submission_rows drop constraint submission_rows_submission_id_fkey;
