"""The ground floor every domain shares: the model base, roles and access rules, pagination,
mail, jobs, and the registries through which domains add to its work. It imports no domain."""
