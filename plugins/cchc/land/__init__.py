"""Landing: validate, pseudonymise and COPY one source day into the raw schema."""

from cchc.land.loader import BatchResult, DayResult, land_day
from cchc.land.pseudonymise import Pseudonymiser
from cchc.land.validate import REASON_CODES, Validator

__all__ = ["BatchResult", "DayResult", "Pseudonymiser", "REASON_CODES", "Validator", "land_day"]
