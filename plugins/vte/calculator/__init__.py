"""A reference calculator for hospital vendors: patient-level discharge records of one day → the 31 counts.

    from vte.calculator import calculate_file
    day = calculate_file("patients.csv")          # raises RecordsError naming every bad cell
    day.payload()                                 # {"date": ..., "data": [{hospital, dept, 31 counts}, ...]}

The CSV columns, the exclusions and the derivation of each field, beside the standard's sentence, are in
docs/calculator.md; ``examples/patients.csv`` is a small example. Pure Python, no warehouse; it reads the
file and returns counts only, and neither logs nor prints anything about a patient.
"""

from pathlib import Path

from vte.calculator.day import CalculatorError, Day, calculate, calculate_file, calculate_records, calculate_text
from vte.calculator.records import COLUMN_NAMES, COLUMNS, CsvProblem, Episode, Records, RecordsError, read_file, \
    read_records

EXAMPLE_CSV = Path(__file__).resolve().parent / "examples" / "patients.csv"

__all__ = ["COLUMNS", "COLUMN_NAMES", "EXAMPLE_CSV", "CalculatorError", "CsvProblem", "Day", "Episode", "Records",
           "RecordsError", "calculate", "calculate_file", "calculate_records", "calculate_text", "read_file",
           "read_records"]
