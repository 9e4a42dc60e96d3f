"""The web page: ``python -m lavis_dynrefer.app`` serves ``page.py`` with Streamlit (which comes
with LAVIS), headless, on one port."""
