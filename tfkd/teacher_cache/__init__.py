"""Teacher caches: the teachers run once, before training, and their outputs
are replayed with the inputs they were computed on, so `fit` never runs a
teacher.

- `cache_teacher_outputs`: over a fixed `tf.data` dataset (offline
  distillation).
- `cache_teacher_views`: over seeded augmented views of every example
  (consistent teaching without the teacher at training time).

Both can keep only the top-k logits (`topk`) and name on-disk caches by a
`fingerprint` of what they hold.
"""

from tfkd.teacher_cache.outputs import cache_teacher_outputs
from tfkd.teacher_cache.views import MAX_FEATURE_CACHE_BYTES, cache_size, cache_teacher_views

__all__ = ["MAX_FEATURE_CACHE_BYTES", "cache_size", "cache_teacher_outputs", "cache_teacher_views"]
