"""PyTorch modules compiled from search-space graphs: cells, supernets, stand-alone networks."""
