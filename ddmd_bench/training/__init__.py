"""The generic distillation trainer (DMD, DMD2, Decoupled DMD): losses, schedules, parameterisations, LoRA, the loop
with resume and DDP/FSDP, and pipeline export. Teachers arrive as a `TeacherBundle` (bundle.py), built from a
diffusers pipeline folder (denoisers.py) or supplied by a track with its prompts and real images; nothing here
knows a track."""
