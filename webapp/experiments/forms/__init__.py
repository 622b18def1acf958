"""The dashboard's forms: parsing what a person typed; the rules stay in the engine's validator and the services."""
