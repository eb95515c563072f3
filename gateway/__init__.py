"""The site gateway: stores scans, asks the city platform, sends verdicts, serves the console."""
