-- Airflow's metadata database beside the warehouse, on the same server.
create database airflow;
