"""The SSL methods Kaizen learns the current task with (L_FE^CT), and their distillers.

Each method is a row of `SSL_METHODS`: whether its projector has BN, whether it has a predictor
and a momentum encoder (BYOL), and which distiller CaSSLe / Kaizen pair with it (errata K7:
contrastive for SimCLR and MoCo v2+, predictive for BYOL). The momentum encoder's tau follows
solo-learn's cosine from `tau_base` to `tau_final` over the task's steps, restarting per task
(errata K4).
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from continual.methods.kaizen import losses


@dataclasses.dataclass(frozen=True)
class SSLMethod:
    """What differs between the SSL methods."""

    name: str
    projector_bn: bool
    momentum: bool      # a momentum (EMA) encoder and projector give the targets
    predictor: bool     # a predictor on the online branch (BYOL)
    distiller: str      # 'predictive' or 'contrastive'


SSL_METHODS = {
    "byol": SSLMethod("byol", projector_bn=True, momentum=True, predictor=True,
                      distiller="predictive"),
    "simclr": SSLMethod("simclr", projector_bn=False, momentum=False, predictor=False,
                        distiller="contrastive"),
}


def ssl_loss(method: SSLMethod, online: dict, targets: dict, temperature: float) -> tf.Tensor:
    """L_FE^CT of one batch. `online` holds z1, z2 (and p1, p2 with a predictor); `targets`
    the momentum branch's z1, z2 (BYOL)."""
    if method.name == "byol":
        return (losses.byol_loss(online["p1"], targets["z2"])
                + losses.byol_loss(online["p2"], targets["z1"]))
    return losses.nt_xent_loss(online["z1"], online["z2"], temperature)


def distill_loss(method: SSLMethod, h1, h2, old1, old2, temperature: float) -> tf.Tensor:
    """L_FE^KD with the method's distiller."""
    if method.distiller == "predictive":
        return losses.predictive_distill_loss(h1, h2, old1, old2)
    return losses.contrastive_distill_loss(h1, h2, old1, old2, temperature)


def momentum_tau(step, total_steps, tau_base: float, tau_final: float) -> tf.Tensor:
    """tau_final - (tau_final - tau_base) (cos(pi step / total) + 1) / 2 (solo-learn)."""
    progress = tf.cast(step, tf.float32) / tf.cast(tf.maximum(total_steps, 1), tf.float32)
    return tau_final - (tau_final - tau_base) * (tf.cos(math.pi * progress) + 1.0) / 2.0


def ema_update(online: list, target: list, tau) -> None:
    """target <- tau target + (1 - tau) online, for each pair of trainable variables."""
    for source, destination in zip(online, target, strict=True):
        destination.assign(tau * destination + (1.0 - tau) * source)
