"""socialcrm: the Social CRM pipeline's domain package, shared by every function."""
