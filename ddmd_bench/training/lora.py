"""LoRA students and fake models through peft, on any diffusers model (PeftAdapterMixin) or plain module."""

from __future__ import annotations

import copy

import torch


def linear_targets(net: torch.nn.Module) -> list[str]:
    """Full names of every nn.Linear in `net` (peft matches them exactly)."""
    return sorted(name for name, m in net.named_modules() if isinstance(m, torch.nn.Linear))


def add_lora(net: torch.nn.Module, rank: int, alpha: float | None = None) -> torch.nn.Module:
    """Inject a LoRA adapter on every linear layer; only the adapter stays trainable."""
    from peft import LoraConfig, inject_adapter_in_model  # heavy backend, imported when a LoRA student is built

    config = LoraConfig(r=rank, lora_alpha=alpha or rank, target_modules=linear_targets(net), lora_dropout=0.0)
    net.requires_grad_(False)
    inject_adapter_in_model(config, net)
    for name, p in net.named_parameters():
        p.requires_grad_("lora_" in name)
    return net


def trainable_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state that training changes: LoRA tensors if `net` has an adapter, else everything."""
    state = net.state_dict()
    lora = {k: v for k, v in state.items() if "lora_" in k}
    return lora or state


def load_trainable_state(net: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Inverse of `trainable_state`, strict about the keys it covers."""
    expected = trainable_state(net).keys()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise KeyError(f"checkpoint does not match the model: missing {missing[:4]}, unexpected {unexpected[:4]}")
    net.load_state_dict(state, strict=False)


def merged_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Base-model state dict with every LoRA update folded in (W + B A scale), keys as in the plain model."""
    from peft.tuners.tuners_utils import BaseTunerLayer  # heavy backend, as in add_lora

    net = copy.deepcopy(net)
    for module in net.modules():
        if isinstance(module, BaseTunerLayer):
            module.merge()
    out = {}
    for key, value in net.state_dict().items():
        if "lora_" in key:
            continue
        out[key.replace(".base_layer.", ".")] = value
    return out


def peft_layers(net: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """(LoRA tensors under peft's own names without the adapter name, the adapter's LoraConfig as a dict): what
    diffusers' `save_lora_weights` writes and `load_lora_weights` reads back, read through peft itself."""
    from peft import get_peft_model_state_dict  # heavy backend, as in add_lora

    config = net.peft_config["default"].to_dict()
    return get_peft_model_state_dict(net, adapter_name="default"), config
