"""The GraphQL API (Parse Server 9.10 shape): schema from the live class schema, resolvers through the door."""
