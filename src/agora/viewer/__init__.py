"""Dataset viewer: config/split discovery, parquet conversion, rows/search/filter/statistics."""
