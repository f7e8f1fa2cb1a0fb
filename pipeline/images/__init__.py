"""Logo misuse in images: IMS's logo, company artwork and photos copied from IMS sites.

    assets.py         AssetRegistry: the registered IMS images and their matching features
    fetcher.py        SafeMediaFetcher: downloads post media without reaching private networks
    decoding.py       decode_image: sniffing, decompression-bomb limits, first frame, EXIF orientation
    matching.py       ImageMatcher: SIFT keypoints + RANSAC (logo anywhere, with a box) and PDQ hashes
    evidence.py       image_evidence_for(media_urls, ...): the evidence of one mention, with thumbnails
    benchmark.py      `ims-monitor bench images`: labelled set, precision, recall, ms/image
    sample_assets.py  the demo's drawn IMS logo, intranet photos and artwork
    commands.py       `ims-monitor assets ...`, `ims-monitor images match`, `ims-monitor bench images`
"""
