"""The published recipes, as data, with the source of every fact.

Facts were read from each model's card or official code (collected 2026-11; see `sources`). Where a detail could not
be checked against a primary source it is listed in the recipe's `unverified`. Revisions are left at the repository
head and resolved to a commit sha at run time (recorded in every result): pinning a sha we could not confirm would
fail on a correct download.

Conventions (diffusers 0.42 code): SD/SDXL run real classifier-free guidance only for guidance > 1 (and no LCM
w-embedding); Z-Image for guidance > 0; FLUX.1-dev's guidance is an embedding. TCD's `eta` is always passed
explicitly, because pipelines otherwise pass their default eta=0 over the scheduler's 0.3.
"""

from __future__ import annotations

from ddmd_bench.recipes.recipe import Recipe, Repo, SchedulerSpec, StudentWeights
from ddmd_bench.registry import Registry

RECIPES: Registry[Recipe] = Registry("method")

SD15 = Repo("stable-diffusion-v1-5/stable-diffusion-v1-5")
SDXL = Repo("stabilityai/stable-diffusion-xl-base-1.0")
HF = "https://huggingface.co/"
DMD2_CHAIN = (999, 749, 499, 249)  # DMD2's 4-step chain (tianweiy/DMD2 card: "LCMScheduler's default timesteps
# are different from the one we used for training")
TRAILING = {"timestep_spacing": "trailing"}
DDIM_TRAILING = {"timestep_spacing": "trailing", "clip_sample": False, "set_alpha_to_one": False}
DIFFUSERS_CFG_RULE = "diffusers 0.42 pipeline code (guidance threshold for classifier-free guidance)"


def _add(recipe: Recipe) -> None:
    RECIPES.add(recipe.name, recipe)


def _sd_pipeline(repo: Repo) -> str:
    return "StableDiffusionXLPipeline" if repo == SDXL else "StableDiffusionPipeline"


def _res(repo: Repo) -> int:
    return 1024 if repo == SDXL else 512


# ------------------------------------------------------------------------------------------------------- teachers
_add(Recipe("sd15", "teacher", "StableDiffusionPipeline", SD15, SchedulerSpec(), 50, 7.5, 512, 51,
            variant="fp16", sources=(HF + "stable-diffusion-v1-5/stable-diffusion-v1-5", DIFFUSERS_CFG_RULE),
            unverified=("scheduler: the repository's own (PNDM by recollection, not read from its config)",),
            notes="the pipeline's call defaults: 50 steps, guidance 7.5, real CFG; PNDM's PLMS warm-up repeats one "
                  "timestep, so 50 steps make 51 UNet calls"))
_add(Recipe("sdxl-base", "teacher", "StableDiffusionXLPipeline", SDXL, SchedulerSpec(), 50, 5.0, 1024, 50,
            variant="fp16", sources=(HF + "stabilityai/stable-diffusion-xl-base-1.0", DIFFUSERS_CFG_RULE),
            unverified=("scheduler: the repository's own (Euler by recollection, not read from its config)",),
            notes="the pipeline's call defaults: 50 steps, guidance 5.0, real CFG"))
_add(Recipe("z-image", "teacher", "ZImagePipeline", Repo("Tongyi-MAI/Z-Image"), SchedulerSpec(), 50, 4.0, 1024, 50,
            dtype="bfloat16", negative_prompt="", sources=(HF + "Tongyi-MAI/Z-Image",),
            unverified=("resolution: the card's example is 1280x720; square 1024 is inside its 512-2048 range",),
            notes="the base model Z-Image-Turbo was distilled from; guidance 3-5 (card example 4), 28-50 steps"))

# ----------------------------------------------------------------------------------------------------------- DMD2
DMD2 = Repo("tianweiy/DMD2")
DMD2_SRC = (HF + "tianweiy/DMD2", "github.com/tianweiy/DMD2 README.md and demo/text_to_image_sdxl.py")
_add(Recipe("dmd2-sd15-1step", "DMD2", "StableDiffusionPipeline", SD15, SchedulerSpec("LCMScheduler", timesteps=(999,)),
            1, 0.0, 512, 1, dtype="float32", needs_pickle=True,
            student=StudentWeights("unet", DMD2, filename="model/sdv1.5/laion6.25_sd_baseline_8node_guidance1.75_lr5e-7_"
                                   "seed10_dfake10_diffusion1000_gan1e-3_resume_fid8.35_checkpoint_model_041000/"
                                   "pytorch_model.bin"),
            sources=(*DMD2_SRC, "github.com/tianweiy/DMD2 main/test_folder_sd.py (one UNet step at t=999, "
                     "x0 from eps, no CFG, fp32, 512 px)", "github.com/tianweiy/DMD2 experiments/sdv1.5/README.md"),
            unverified=("LCMScheduler with timesteps [999] as the diffusers equivalent of the official one-step "
                        "x0 prediction (c_skip ~ 0 at t=999, so it is the same formula)",),
            notes="the FID 8.35 checkpoint; published only as a pickle (--allow-pickle)"))
_add(Recipe("dmd2-sdxl-1step", "DMD2", "StableDiffusionXLPipeline", SDXL, SchedulerSpec("LCMScheduler", timesteps=(399,)),
            1, 0.0, 1024, 1, variant="fp16", needs_pickle=True,
            student=StudentWeights("unet", DMD2, filename="dmd2_sdxl_1step_unet_fp16.bin"), sources=DMD2_SRC,
            notes="published only as a pickle (--allow-pickle); conditioning timestep 399"))
_add(Recipe("dmd2-sdxl-4step", "DMD2", "StableDiffusionXLPipeline", SDXL, SchedulerSpec("LCMScheduler", timesteps=DMD2_CHAIN),
            4, 0.0, 1024, 4, variant="fp16",
            student=StudentWeights("unet", DMD2, filename="dmd2_sdxl_4step_unet_fp16.safetensors"), sources=DMD2_SRC,
            notes="the safetensors UNet added to the repository after the pickle one"))
_add(Recipe("dmd2-sdxl-4step-lora", "DMD2", "StableDiffusionXLPipeline", SDXL,
            SchedulerSpec("LCMScheduler", timesteps=DMD2_CHAIN), 4, 0.0, 1024, 4, variant="fp16",
            student=StudentWeights("lora", DMD2, filename="dmd2_sdxl_4step_lora_fp16.safetensors", lora_scale=1.0),
            sources=DMD2_SRC))

# ------------------------------------------------------------------------------------------------------------ LCM
LCM_SRC = "diffusers docs: using-diffusers/inference_with_lcm.md"
_add(Recipe("lcm-sdxl", "LCM", "StableDiffusionXLPipeline", SDXL, SchedulerSpec("LCMScheduler"), 4, 8.0, 1024, 4,
            variant="fp16", guidance_embedded=True,
            student=StudentWeights("unet", Repo("latent-consistency/lcm-sdxl"), subfolder="."),
            sources=(HF + "latent-consistency/lcm-sdxl", LCM_SRC),
            unverified=("that the lcm-sdxl UNet has a guidance embedding (time_cond_proj_dim), so guidance 8 adds "
                        "no unconditional pass: the diffusers guide says LCM 'applies guidance with guidance "
                        "embeddings'; the run's trace records what happened",)))
for _base, _id in ((SD15, "lcm-lora-sd15"), (SDXL, "lcm-lora-sdxl")):
    _repo = "latent-consistency/lcm-lora-sdv1-5" if _base == SD15 else "latent-consistency/lcm-lora-sdxl"
    _add(Recipe(_id, "LCM-LoRA", _sd_pipeline(_base), _base, SchedulerSpec("LCMScheduler"), 4, 0.0, _res(_base), 4,
                variant="fp16", student=StudentWeights("lora", Repo(_repo), filename="pytorch_lora_weights.safetensors"),
                sources=(HF + _repo, LCM_SRC),
                notes="the card uses guidance 0 (or 1-2); the SD1.5 card demonstrates on Lykon/dreamshaper-7, here "
                      "it is applied to SD1.5 itself"))

# ---------------------------------------------------------------------------------------------------------- Turbo
_add(Recipe("sd-turbo", "SD-Turbo", "StableDiffusionPipeline", Repo("stabilityai/sd-turbo"), SchedulerSpec(), 1, 0.0,
            512, 1, variant="fp16", sources=(HF + "stabilityai/sd-turbo",),
            unverified=("scheduler: the repository's own",),
            notes="distilled from SD 2.1; 'does not make use of guidance_scale or negative_prompt'"))
_add(Recipe("sdxl-turbo", "SDXL-Turbo", "StableDiffusionXLPipeline", Repo("stabilityai/sdxl-turbo"), SchedulerSpec(),
            1, 0.0, 512, 1, variant="fp16",
            sources=(HF + "stabilityai/sdxl-turbo", "diffusers docs: using-diffusers/sdxl_turbo.md"),
            notes="trained at 512 px; 2-4 steps also work"))

# ------------------------------------------------------------------------------------------------- SDXL-Lightning
LIGHTNING = Repo("ByteDance/SDXL-Lightning")
for _n in (1, 2, 4, 8):
    _file = "sdxl_lightning_1step_unet_x0.safetensors" if _n == 1 else f"sdxl_lightning_{_n}step_unet.safetensors"
    _config = {**TRAILING, "prediction_type": "sample"} if _n == 1 else TRAILING
    _add(Recipe(f"sdxl-lightning-{_n}step", "SDXL-Lightning", "StableDiffusionXLPipeline", SDXL,
                SchedulerSpec("EulerDiscreteScheduler", _config), _n, 0.0, 1024, _n, variant="fp16",
                student=StudentWeights("unet", LIGHTNING, filename=_file), sources=(HF + "ByteDance/SDXL-Lightning",),
                notes="1-step is experimental per the card and predicts x0" if _n == 1 else ""))
    if _n > 1:
        _add(Recipe(f"sdxl-lightning-{_n}step-lora", "SDXL-Lightning", "StableDiffusionXLPipeline", SDXL,
                    SchedulerSpec("EulerDiscreteScheduler", TRAILING), _n, 0.0, 1024, _n, variant="fp16",
                    student=StudentWeights("lora", LIGHTNING, filename=f"sdxl_lightning_{_n}step_lora.safetensors"),
                    sources=(HF + "ByteDance/SDXL-Lightning",)))

# ------------------------------------------------------------------------------------------------------- Hyper-SD
HYPER = Repo("ByteDance/Hyper-SD")
for _base, _prefix, _tag in ((SD15, "Hyper-SD15", "sd15"), (SDXL, "Hyper-SDXL", "sdxl")):
    for _n in (2, 4, 8):
        _add(Recipe(f"hyper-{_tag}-{_n}step-lora", "Hyper-SD", _sd_pipeline(_base), _base,
                    SchedulerSpec("DDIMScheduler", TRAILING), _n, 0.0, _res(_base), _n, variant="fp16",
                    student=StudentWeights("lora", HYPER, filename=f"{_prefix}-{_n}steps-lora.safetensors"),
                    sources=(HF + "ByteDance/Hyper-SD",)))
    _add(Recipe(f"hyper-{_tag}-1step-lora", "Hyper-SD", _sd_pipeline(_base), _base,
                SchedulerSpec("TCDScheduler", eta=1.0), 1, 0.0, _res(_base), 1, variant="fp16",
                student=StudentWeights("lora", HYPER, filename=f"{_prefix}-1step-lora.safetensors"),
                sources=(HF + "ByteDance/Hyper-SD",), notes="the unified LoRA (1-8 steps); lower eta for more steps"))
_add(Recipe("hyper-sdxl-1step-unet", "Hyper-SD", "StableDiffusionXLPipeline", SDXL,
            SchedulerSpec("LCMScheduler", timesteps=(800,)), 1, 0.0, 1024, 1, variant="fp16",
            student=StudentWeights("unet", HYPER, filename="Hyper-SDXL-1step-Unet.safetensors"),
            sources=(HF + "ByteDance/Hyper-SD",)))

# ------------------------------------------------------------------------------------------------------------ TCD
TCD_SRC = "diffusers docs: using-diffusers/inference_with_tcd_lora.md"
for _base, _repo, _tag in ((SD15, "h1t/TCD-SD15-LoRA", "sd15"), (SDXL, "h1t/TCD-SDXL-LoRA", "sdxl")):
    _add(Recipe(f"tcd-{_tag}-4step", "TCD", _sd_pipeline(_base), _base, SchedulerSpec("TCDScheduler", eta=0.3), 4, 0.0,
                _res(_base), 4, variant="fp16",
                student=StudentWeights("lora", Repo(_repo), filename="pytorch_lora_weights.safetensors"),
                sources=(HF + _repo, TCD_SRC), notes="eta (the paper's gamma) 0.3; raise it with more steps"))

# ------------------------------------------------------------------------------------------------------------ PCM
PCM = Repo("wangfuyun/PCM_Weights")
PCM_SRC = (HF + "wangfuyun/PCM_Weights", "github.com/G-U-N/Phased-Consistency-Model demo/app.py")
for _base, _tag in ((SD15, "sd15"), (SDXL, "sdxl")):
    for _n in (2, 4, 8):
        _add(Recipe(f"pcm-{_tag}-smallcfg-{_n}step", "PCM", _sd_pipeline(_base), _base,
                    SchedulerSpec("DDIMScheduler", DDIM_TRAILING), _n, 0.0, _res(_base), _n, variant="fp16",
                    student=StudentWeights("lora", PCM, filename=f"{_tag}/pcm_{_tag}_smallcfg_{_n}step_converted"
                                                                 f".safetensors", fuse=False),
                    sources=PCM_SRC,
                    unverified=("scheduler: the card recommends DDIM (or Euler) with trailing spacing, clip_sample and "
                                "set_alpha_to_one off, used here; the official demo runs TCDScheduler at its "
                                "effective eta 0 instead, whose timesteps may differ",),
                    notes="adapters kept live (not fused), as in the official demo"))

# ----------------------------------------------------------------------------------------- flow-matching students
_add(Recipe("sd35-large-turbo", "SD3.5-Turbo", "StableDiffusion3Pipeline",
            Repo("stabilityai/stable-diffusion-3.5-large-turbo"), SchedulerSpec(), 4, 0.0, 1024, 4, dtype="bfloat16",
            call_kwargs={"max_sequence_length": 256}, sources=(HF + "stabilityai/stable-diffusion-3.5-large-turbo",),
            unverified=("resolution 1024 from the official Space's defaults; the card snippet does not state it",)))
_add(Recipe("flux1-schnell", "FLUX.1-schnell", "FluxPipeline", Repo("black-forest-labs/FLUX.1-schnell"),
            SchedulerSpec(), 4, 0.0, 1024, 4, dtype="bfloat16", call_kwargs={"max_sequence_length": 256},
            sources=(HF + "black-forest-labs/FLUX.1-schnell", "diffusers docs: api/pipelines/flux.md"),
            unverified=("the card's snippet was read only in copies; the diffusers docs confirm steps, guidance and "
                        "the 256-token limit",)))
_add(Recipe("flux1-dev", "FLUX.1-dev", "FluxPipeline", Repo("black-forest-labs/FLUX.1-dev"), SchedulerSpec(), 50, 3.5,
            1024, 50, dtype="bfloat16", guidance_embedded=True, call_kwargs={"max_sequence_length": 512},
            sources=(HF + "black-forest-labs/FLUX.1-dev", "diffusers docs: api/pipelines/flux.md"),
            unverified=("the card's snippet was read only in copies",),
            notes="guidance-distilled: 3.5 is an embedding input, one forward per step"))
_add(Recipe("z-image-turbo", "Z-Image-Turbo", "ZImagePipeline", Repo("Tongyi-MAI/Z-Image-Turbo"), SchedulerSpec(), 8,
            0.0, 1024, 8, dtype="bfloat16", sources=(HF + "Tongyi-MAI/Z-Image-Turbo", "diffusers PR #12725 and "
                                                      "#13730; Z-Image-Turbo discussion #158"),
            notes="produced with Decoupled DMD. The card's num_inference_steps=9 meant 8 useful forwards in diffusers "
                  "0.36 (the 9th at t=0 changed nothing); diffusers 0.42 builds the same 8-step schedule from "
                  "num_inference_steps=8 in 8 forwards, which is what this recipe runs"))
