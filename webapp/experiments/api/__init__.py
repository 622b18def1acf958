"""The JSON API (django-ninja): endpoints, authentication, errors in one shape, and the schemas the OpenAPI document is made of."""
