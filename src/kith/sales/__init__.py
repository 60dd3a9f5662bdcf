"""Sales: products and price lists, pipelines with stages, deals, stage history and forecast."""
