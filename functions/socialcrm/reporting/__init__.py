"""Reporting: counters kept as events happen, summaries read back from them, the daily report.

- ``dimensions``  the counter cells (day x dimension string) and the first-response histogram buckets
- ``facts``       what each event adds to the counters, under a fact key that makes counting idempotent
- ``counters``    the DynamoDB repository: one transaction per fact (seen marker + counter updates)
- ``consumer``    the report consumer's batch: parse, derive facts, record them, report failures
- ``business_metrics``  the consumer's CloudWatch metrics (interactions by platform and sentiment, SLA, spikes)
- ``summary``     date-range validation and the summary (JSON) computed from counter cells
- ``csv_export``  the summary as CSV
- ``charts``      the daily report's charts (matplotlib, imported lazily: never by the api or consumer)
- ``page``        the daily report's HTML page (self-contained: inline SVG, inline CSS, no script)
- ``daily``       the scheduled daily report: build, render, write to S3 or a local folder
"""
