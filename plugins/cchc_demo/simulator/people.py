"""Fake people: applicants (personal data) and officials (rosters per unit and office).

Applicants get realistic but invented Vietnamese names, 12-digit citizen ID numbers, ``09xxxxxxxx``
phone numbers and e-mails; businesses a company name and a 10-digit tax code. Officials are public
office holders: their names appear in processing steps and on documents and are not personal data
to pseudonymise.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cchc_demo.simulator.rand import stream

FAMILY = ("Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ",
          "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương", "Mai", "Đoàn")
MIDDLE_M = ("Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Công", "Xuân", "Ngọc", "Anh", "Trọng")
MIDDLE_F = ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bích", "Kim", "Hồng", "Phương", "Mỹ")
GIVEN_M = ("An", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khánh",
           "Khoa", "Long", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thành",
           "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Hưng")
GIVEN_F = ("Anh", "Châu", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Huyền", "Lan", "Liên",
           "Linh", "Loan", "Mai", "Ngân", "Nga", "Nhung", "Oanh", "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy",
           "Trang", "Trinh", "Uyên", "Vân", "Xuân", "Yến")
COMPANY_KIND = ("Công ty TNHH", "Công ty TNHH MTV", "Công ty Cổ phần", "Doanh nghiệp tư nhân", "Hợp tác xã")
COMPANY_TRADE = ("Thương mại", "Xây dựng", "Dịch vụ", "Vận tải", "Nông sản", "Đầu tư", "Du lịch", "Cơ khí",
                 "Thực phẩm", "Công nghệ")
COMPANY_NAME = ("Minh Phát", "Hòa Bình", "Sơn Hà", "Thành Đạt", "An Khang", "Phú Quý", "Tân Tiến", "Hưng Thịnh",
                "Đông Á", "Việt Hưng", "Bắc Khê", "Kim Long", "Phương Nam", "Trường Sơn")
MAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "sonha.vn")
PROVINCE_ID_PREFIX = "099"  # the fictional province's birth-registration code in ID numbers


def ascii_fold(text: str) -> str:
    """Vietnamese text without diacritics (đ → d), lower case."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()


def full_name(rng: random.Random, female: bool | None = None) -> str:
    if female is None:
        female = rng.random() < 0.5
    middle, given = (MIDDLE_F, GIVEN_F) if female else (MIDDLE_M, GIVEN_M)
    return f"{rng.choice(FAMILY)} {rng.choice(middle)} {rng.choice(given)}"


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str
    email: str


def citizen(rng: random.Random) -> Applicant:
    female = rng.random() < 0.5
    name = full_name(rng, female)
    born = rng.randint(1950, 2006)
    century = (0 if born < 2000 else 2) + (1 if female else 0)
    id_number = f"{PROVINCE_ID_PREFIX}{century}{born % 100:02d}{rng.randrange(10**6):06d}"
    return Applicant(name, id_number, phone(rng), email(rng, name, born))


def business(rng: random.Random) -> Applicant:
    trade, brand = rng.choice(COMPANY_TRADE), rng.choice(COMPANY_NAME)
    name = f"{rng.choice(COMPANY_KIND)} {trade} {brand}"
    tax_code = f"4{rng.randrange(10**9):09d}"
    mail = f"{ascii_fold(brand).replace(' ', '')}.{ascii_fold(trade).replace(' ', '')}@gmail.com"
    return Applicant(name, tax_code, phone(rng), mail if rng.random() < 0.8 else "")


def phone(rng: random.Random) -> str:
    return f"09{rng.randrange(10**8):08d}"


def email(rng: random.Random, name: str, born: int) -> str:
    if rng.random() < 0.2:
        return ""
    parts = ascii_fold(name).split()
    style = rng.randrange(3)
    local = {0: parts[-1] + "".join(p[0] for p in parts[:-1]), 1: ".".join(parts[-1:] + parts[:1]),
             2: "".join(parts)}[style]
    return f"{local}{born % 100 if rng.random() < 0.6 else rng.randrange(1, 999)}@{rng.choice(MAIL_DOMAINS)}"


@dataclass(frozen=True)
class Official:
    name: str
    title: str


@lru_cache(maxsize=4096)
def roster(seed: int, unit_id: str, office: str, titles: tuple[str, ...]) -> tuple[Official, ...]:
    """The officials of one office of a unit, one per title; stable for a seed."""
    rng = stream(seed, "roster", unit_id, office)
    return tuple(Official(full_name(rng), title) for title in titles)
