"""The consumer side's files, from published data only (schema ``kpi``): the official report
files (:mod:`cchc.reports.exports`: Mẫu 06, late units, e-signatures as XLSX and CSV) and the
bulletin per publication (:mod:`cchc.reports.bulletin`: a static HTML page with inline SVG charts).
"""
