"""Video-level evaluation of talking-head results: FID, FVD, Sync-C/Sync-D, CSIM, LPIPS (paper Table 1).

Every network is defined here in plain torch (no torchvision) and loads the public weight files from
local paths; nothing is downloaded.
"""
