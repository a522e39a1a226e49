"""The networks of a Kaizen method, its optimiser's parameter groups and its checkpoint parts.

`build_networks` makes every model once per build, in a fixed order with fixed seed offsets (so
a method built twice, e.g. by two stages, starts from the same weights): the student (encoder,
projector, classifier, online probe, distillation predictor, BYOL's predictor), the momentum
encoder and projector (MoCo v2+, BYOL) with MoCo's queue, and the teacher (encoder, projector,
classifier), which `Kaizen.begin_experience` overwrites with the student at each later task.
"""

from __future__ import annotations

from continual.methods.kaizen.heads import copy_weights, linear_head, two_layer_head
from continual.methods.kaizen.moco import NegativeQueue
from continual.methods.kaizen.ssl import SSLMethod, build_projector
from continual.models.classifiers import build_classifier


def build_networks(ssl: SSLMethod, settings: dict, input_shape, num_classes: int,
                   seed: int) -> dict:
    """Kaizen's models by attribute name: encoder, projector, classifier, probe,
    distill_predictor, predictor (None without one), queue (None but for MoCo v2+), momentum
    and teacher (dicts of models; momentum None without a momentum encoder)."""
    def encoder():
        return build_classifier(input_shape=tuple(input_shape), num_classes=num_classes,
                                seed=seed).backbone

    def classifier(name):
        return two_layer_head(dim, settings["classifier_hidden"], num_classes, batch_norm=False,
                              seed=seed + 300, name=name)

    proj = settings["projection_dim"]
    nets = {"encoder": encoder()}
    dim = int(nets["encoder"].output.shape[-1])
    nets["projector"] = build_projector(ssl, dim, settings, seed, "projector")
    nets["classifier"] = classifier("classifier")
    nets["probe"] = linear_head(dim, num_classes, seed=seed + 400, name="online_probe")
    nets["distill_predictor"] = two_layer_head(proj, settings["distill_hidden"], proj,
                                               batch_norm=True, seed=seed + 500,
                                               name="distill_predictor")
    nets["predictor"] = (two_layer_head(proj, settings["predictor_hidden"], proj,
                                        batch_norm=True, seed=seed + 600, name="predictor")
                         if ssl.predictor else None)
    nets["momentum"] = None
    nets["queue"] = NegativeQueue(settings["queue_size"], proj, seed) if ssl.queue else None
    if ssl.momentum:
        nets["momentum"] = {"encoder": encoder(), "projector": build_projector(
            ssl, dim, settings, seed, "momentum_projector")}
        copy_weights(nets["encoder"], nets["momentum"]["encoder"])
        copy_weights(nets["projector"], nets["momentum"]["projector"])
    nets["teacher"] = {"encoder": encoder(),
                       "projector": build_projector(ssl, dim, settings, seed,
                                                    "teacher_projector"),
                       "classifier": classifier("teacher_classifier")}
    return nets


def parameter_groups(method) -> dict:
    """The optimiser's groups: encoder (+ projector and BYOL's predictor), classifier, the
    online probe (when trained) and the distillation predictor."""
    trunk = method.encoder.trainable_variables + method.projector.trainable_variables
    if method.predictor is not None:
        trunk += method.predictor.trainable_variables
    groups = {"encoder": trunk, "classifier": method.classifier.trainable_variables}
    if method.settings["online_probe"]:
        groups["probe"] = method.probe.trainable_variables
    # Always a group (without feature distillation it never gets a gradient), so the
    # optimiser's variables do not depend on the flag.
    groups["distill_predictor"] = method.distill_predictor.trainable_variables
    return groups


def checkpoint_parts(method) -> dict:
    """Everything a stage checkpoint of the method holds, by name (`Kaizen.trackables`)."""
    found = {"encoder": method.encoder, "projector": method.projector,
             "classifier": method.classifier, "probe": method.probe,
             "distill_predictor": method.distill_predictor,
             "optimizer": method.optimizer.groups, "task": method.task,
             "task_steps": method.task_steps,
             **{f"teacher_{k}": v for k, v in method.teacher.items()}}
    if method.predictor is not None:
        found["predictor"] = method.predictor
    if method.momentum is not None:
        found.update({f"momentum_{k}": v for k, v in method.momentum.items()})
    if method.buffer is not None:
        found["buffer"] = method.buffer
    if method.queue is not None:
        found["moco_queue"] = method.queue
    if method.loss_scale.enabled:  # float32 checkpoints stay as they were
        found["loss_scale"] = method.loss_scale
    return found
