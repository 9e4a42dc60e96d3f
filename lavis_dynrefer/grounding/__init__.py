"""Grounding: from text to the regions it refers to (referring expressions, phrases, zero, one
or many targets), with the region-text decoder's SigLIP probability as the score."""
