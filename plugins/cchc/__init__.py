"""cchc: the administrative-reform (cải cách hành chính) data platform of a province."""

__version__ = "0.1.0"
