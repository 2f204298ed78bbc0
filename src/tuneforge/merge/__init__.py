"""Model merging (`tuneforge merge`): one pure function per method over the tensors of one
name, in `merge/methods/`, behind the `METHODS` registry with mergekit's method and
parameter names."""
