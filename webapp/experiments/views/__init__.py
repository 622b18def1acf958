"""The dashboard's pages: thin views that read through selectors, act through services and render presenters' data."""
