"""Synthetic robot-arena data: scenes with exact boxes, YOLO datasets and video clips."""

from .arena import CLASS_NAMES, ArenaGenerator, Scene, write_video, write_yolo_dataset

__all__ = ['CLASS_NAMES', 'ArenaGenerator', 'Scene', 'write_video', 'write_yolo_dataset']
