"""Publishing the marts: the history of every publication (more of the pipeline's stages move here)."""
