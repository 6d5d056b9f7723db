"""Workers: FSDP2 actor/reference ranks, rollout engines (hf, vllm), weight sync, Ray worker groups.

Plain classes hold the logic (:class:`~skillrl.workers.actor.FSDPActor`, the engines in
:mod:`skillrl.workers.rollout`); ``actor_worker`` and ``rollout_worker`` are their thin Ray actors,
and :class:`~skillrl.workers.worker_group.RayWorkerGroup` drives the ranks from the trainer.
Nothing is imported here, so ``import skillrl.workers`` stays cheap.
"""
