"""Events on the ``socialcrm`` bus: their models (schemas in ``schemas/events/``) and the publisher."""
