"""Lesson 17: looking inside a trained CNN: filters, feature maps, saliency and Grad-CAM.

First-layer filters show what the network looks for (edges, colour blobs); feature maps show where it finds it.
A saliency map is |dL/dx|, the input gradient that backward already computes (Simonyan et al. 2014). Grad-CAM
(Selvaraju et al. 2017) weighs the last convolutional maps A_k by the mean gradient of the class score over each
map, w_k = mean(dy_c/dA_k), and shows relu(sum_k w_k A_k) upsampled onto the image.
"""
import os

import numpy as np

import tinycnn
from tinycnn import data, models, nn, optim, viz
from course import arguments, cifar10, fit, subset

args = arguments(__doc__, "train longer")
cifar = cifar10()
x, y = subset(cifar.x_train, cifar.y_train, 20000 if args.full else 4000)
mean, std = data.channel_stats(x)
tinycnn.manual_seed(0)
model = models.simple_cnn()
fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3), x, y, 8 if args.full else 2, mean, std)
model.eval()

viz.plot_filters(model.features[0].weight.data, os.path.join(args.out, "17_filters.png"))
# Where does the network look when it is right? For each class, the test image (of 1,000 drawn at random) that
# it classifies right with the highest confidence; 8 classes of them.
pool = np.random.default_rng(0).permutation(len(cifar.y_test))[:1000]
x_pool, y_pool = data.normalize(cifar.x_test[pool], mean, std), cifar.y_test[pool]
probs = np.concatenate([tinycnn.functional.softmax(model(x_pool[i:i + 250])) for i in range(0, 1000, 250)])
right = probs.argmax(axis=1) == y_pool
best = [int(np.argmax(np.where(right & (y_pool == c), probs[:, c], -1))) for c in range(10)]
shown = pool[[i for i in best if right[i]][:8]]
assert len(shown) >= 4, "fewer than 4 classes with a test image classified right"
images = cifar.x_test[shown]
x8 = data.normalize(images, mean, std)
maps = model.features[:2](x8)                                 # conv1 + ReLU of the first test image: (64, 30, 30)
viz.plot_feature_maps(maps[0, :16], os.path.join(args.out, "17_feature_maps.png"), title="conv1 + ReLU, first 16 maps")

# Saliency: the gradient of the predicted class's score with respect to the input pixels.
logits = model(x8)
preds = logits.argmax(axis=1)
onehot = np.eye(10, dtype=np.float32)[preds]
saliency = np.abs(model.backward(onehot)).max(axis=1)        # (8, 32, 32): largest |dy_c/dx| over colours
assert saliency.shape == (len(shown), 32, 32) and saliency.max() > 0

# Grad-CAM on the last conv block's output: features[:5] gives A (N, 32, 13, 13).
A = model.features[:5](x8)
rest = nn.Sequential(*model.features.children()[5:], model.flatten, model.classifier)
rest(A)
dA = rest.backward(onehot)                                    # dy_c / dA
weights = dA.mean(axis=(2, 3), keepdims=True)                 # w_k = mean over the map
cam = np.maximum((weights * A).sum(axis=1), 0)                # (N, 13, 13)
cam = np.kron(cam, np.ones((3, 3)))[:, :32, :32]              # nearest upsampling onto 32x32 (39 -> 32)
titles = [f"{cifar.classes[p]} / {cifar.classes[t]}" for p, t in zip(preds, cifar.y_test[shown])]
viz.plot_image_grid(images, titles, os.path.join(args.out, "17_saliency.png"), overlays=saliency,
                    suptitle="saliency |dL/dx| on images classified right (predicted / true)")
viz.plot_image_grid(images, titles, os.path.join(args.out, "17_gradcam.png"), overlays=cam,
                    suptitle="Grad-CAM on images classified right (predicted / true)")
print("predicted / true:", titles)
print(f"figures: {args.out}/17_filters.png, 17_feature_maps.png, 17_saliency.png, 17_gradcam.png")
