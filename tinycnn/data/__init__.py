"""tinycnn.data: CIFAR-10 in all its forms, image folders, augmentation and batching."""
from .archive import UnsafeArchiveError, restricted_load, safe_extract
from .augment import (PADDING_MODES, Augment, alternating_flip, channel_stats, cutout, normalize, random_crop,
                      random_flip)
from .cifar10 import CIFAR10, CLASSES, download_file, find_source, load_cifar10
from .image_folder import decode_image, load_image_folder
from .loader import DataLoader, batch_seed
