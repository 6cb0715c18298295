-- After a reset or a fill: hint bits, visibility map and statistics in
-- place, dirty buffers written, so that the run that follows starts clean.
VACUUM (ANALYZE);
CHECKPOINT;
