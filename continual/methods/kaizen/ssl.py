"""The SSL methods Kaizen learns the current task with (L_FE^CT), and their distillers.

Each method is a row of `SSL_METHODS`: its projector (BN in the hidden layers or not, one or
two hidden layers), whether it has a predictor (BYOL), a momentum encoder (BYOL, MoCo v2+) and
a queue of negatives (MoCo v2+), and the distiller CaSSLe / Kaizen pair it with (the paper
scripts' `--distiller`: contrastive for SimCLR and MoCo v2+, predictive for BYOL,
predictive-MSE for VICReg); `Kaizen.distiller` overrides it. MoCo v2+'s projections are
L2-normalised before the losses and the distillation predictor (solo-learn's `q`). The momentum
encoder's tau follows solo-learn's cosine from `tau_base` to `tau_final` over the task's steps,
restarting per task (as the original's).
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf

from continual import planning
from continual.methods.kaizen import losses
from continual.methods.kaizen.heads import mlp_head

OWNER = "Kaizen"
DISTILLERS = ("contrastive", "predictive", "predictive_mse")


@dataclasses.dataclass(frozen=True)
class SSLMethod:
    """What differs between the SSL methods."""

    name: str
    projector_bn: bool
    momentum: bool      # a momentum (EMA) encoder and projector give the targets
    predictor: bool     # a predictor on the online branch (BYOL)
    distiller: str      # one of DISTILLERS
    queue: bool = False             # negatives from a queue of past keys (MoCo v2+)
    normalized: bool = False        # projections L2-normalised before losses and distiller
    projector_layers: int = 1       # hidden layers of the projector


SSL_METHODS = {
    "byol": SSLMethod("byol", projector_bn=True, momentum=True, predictor=True,
                      distiller="predictive"),
    "mocov2plus": SSLMethod("mocov2plus", projector_bn=False, momentum=True, predictor=False,
                            distiller="contrastive", queue=True, normalized=True),
    "simclr": SSLMethod("simclr", projector_bn=False, momentum=False, predictor=False,
                        distiller="contrastive"),
    "vicreg": SSLMethod("vicreg", projector_bn=True, momentum=False, predictor=False,
                        distiller="predictive_mse", projector_layers=2),
}


def check_ssl_settings(values: dict) -> None:
    """The SSL bindings of `Kaizen` (argument -> value): method, distiller, queue, weights."""
    planning.check_choice(f"{OWNER}.ssl_method", values["ssl_method"], tuple(SSL_METHODS))
    if values["distiller"] is not None:
        planning.check_choice(f"{OWNER}.distiller", values["distiller"], DISTILLERS)
    planning.check_int(f"{OWNER}.queue_size", values["queue_size"], minimum=1)
    planning.check_float(f"{OWNER}.moco_temperature", values["moco_temperature"])
    for name in ("vicreg_invariance_weight", "vicreg_variance_weight",
                 "vicreg_covariance_weight"):
        if planning.check_float(f"{OWNER}.{name}", values[name], positive=False) < 0:
            raise ValueError(f"{OWNER}.{name} = {values[name]} must be >= 0; fix the gin binding")


def resolve_ssl(values: dict) -> SSLMethod:
    """The row of `Kaizen.ssl_method`, with `Kaizen.distiller` when it is bound (not None)."""
    method = SSL_METHODS[values["ssl_method"]]
    if values.get("distiller") is None:
        return method
    return dataclasses.replace(method, distiller=values["distiller"])


def build_projector(method: SSLMethod, in_dim: int, settings: dict, seed: int,
                    name: str) -> keras.Model:
    """The method's projector: in_dim -> projector_hidden (x layers) -> projection_dim."""
    return mlp_head(in_dim, settings["projector_hidden"], settings["projection_dim"],
                    hidden_layers=method.projector_layers, batch_norm=method.projector_bn,
                    seed=seed + 200, name=name)


def online_branch(method: SSLMethod, projector, predictor, f1, f2) -> dict:
    """z1, z2 (normalised for MoCo v2+) and, with a predictor, p1, p2 of the online branch."""
    online = {f"z{i}": project(method, projector, f) for i, f in ((1, f1), (2, f2))}
    if predictor is not None:
        online.update(p1=predictor(online["z1"], training=True),
                      p2=predictor(online["z2"], training=True))
    return online


def project(method: SSLMethod, projector, features) -> tf.Tensor:
    """projector(features) in training mode, L2-normalised where the method does so."""
    z = projector(features, training=True)
    return tf.math.l2_normalize(z, axis=1) if method.normalized else z


def ssl_loss(method: SSLMethod, online: dict, targets: dict, settings: dict,
             queue=None) -> tf.Tensor:
    """L_FE^CT of one batch. `online` holds z1, z2 (and p1, p2 with a predictor); `targets`
    the momentum branch's z1, z2; `queue` MoCo v2+'s `NegativeQueue` (read before this step's
    keys are enqueued); `settings` Kaizen's bindings (temperatures, VICReg's weights)."""
    if method.name == "byol":
        return (losses.byol_loss(online["p1"], targets["z2"])
                + losses.byol_loss(online["p2"], targets["z1"]))
    if method.name == "mocov2plus":
        t = settings["moco_temperature"]
        return 0.5 * (losses.moco_loss(online["z1"], targets["z2"], queue.keys[1], t)
                      + losses.moco_loss(online["z2"], targets["z1"], queue.keys[0], t))
    if method.name == "vicreg":
        return losses.vicreg_loss(online["z1"], online["z2"],
                                  settings["vicreg_invariance_weight"],
                                  settings["vicreg_variance_weight"],
                                  settings["vicreg_covariance_weight"])
    return losses.nt_xent_loss(online["z1"], online["z2"], settings["simclr_temperature"])


def distill_loss(method: SSLMethod, h1, h2, old1, old2, temperature: float) -> tf.Tensor:
    """L_FE^KD with the method's distiller (the weight λ_f is applied by the caller)."""
    if method.distiller == "predictive":
        return losses.predictive_distill_loss(h1, h2, old1, old2)
    if method.distiller == "predictive_mse":
        return losses.predictive_mse_distill_loss(h1, h2, old1, old2)
    return losses.contrastive_distill_loss(h1, h2, old1, old2, temperature)


def momentum_tau(step, total_steps, tau_base: float, tau_final: float) -> tf.Tensor:
    """tau_final - (tau_final - tau_base) (cos(pi step / total) + 1) / 2 (solo-learn)."""
    progress = tf.cast(step, tf.float32) / tf.cast(tf.maximum(total_steps, 1), tf.float32)
    return tau_final - (tau_final - tau_base) * (tf.cos(math.pi * progress) + 1.0) / 2.0


def ema_update(online: list, target: list, tau) -> None:
    """target <- tau target + (1 - tau) online, for each pair of trainable variables."""
    for source, destination in zip(online, target, strict=True):
        destination.assign(tau * destination + (1.0 - tau) * source)
