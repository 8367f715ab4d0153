"""Streamlit dashboard over a published dataset (``streamlit run app.py -- --dataset DIR``).

Modules: ``data`` (dataset checks, the DuckDB connection and cached queries), ``queries`` (the SQL,
pure functions of a connection and the filters), ``filters`` (filter state and its URL form),
``labels`` / ``i18n`` (Chinese and English names), ``charts`` (pure Plotly figure builders),
``safe`` (escaping of scraped text), ``ui`` (sidebar and shared widgets) and ``pages/`` (one script
per page, UI only).
"""
