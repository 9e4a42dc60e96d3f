"""The language decoder: frozen Flan-T5 reading projected region tokens and control words.

Shape letters: R regions, Q region tokens, D Q-Former width, M T5 width, T text tokens.

Encoder input = [t5_proj(region tokens) ; embed(control words) + memory], where the memory unit
is one learnable M-vector added to every control-word token embedding (method.md 3.iii).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase, T5Config, T5ForConditionalGeneration

from lavis_dynrefer.models.config import GenerationConfig, LanguageConfig
from lavis_dynrefer.models.cross_rank import mean_count_per_rank
from lavis_dynrefer.models.lockable import Lockable


def t5_config(config: LanguageConfig) -> T5Config:
    """Flan-T5 architecture from the config's numbers, with LAVIS's exact-GELU override."""
    t5 = T5Config(
        vocab_size=config.vocab_size,
        d_model=config.d_model,
        d_kv=config.d_kv,
        d_ff=config.d_ff,
        num_layers=config.num_layers,
        num_decoder_layers=config.num_decoder_layers,
        num_heads=config.num_heads,
        relative_attention_num_buckets=config.relative_attention_num_buckets,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    # Blip2T5 sets dense_act_fn = "gelu" (exact erf GELU) on top of Flan-T5's gated-gelu.
    t5.dense_act_fn = "gelu"
    return t5


class FrozenT5(Lockable):
    """Lockable holder of the T5 model (``model`` is a stock ``T5ForConditionalGeneration``)."""

    def __init__(self, config: LanguageConfig):
        super().__init__()
        self.model = T5ForConditionalGeneration(t5_config(config))
        if config.lm_head_init_std is not None and not self.model.lm_head.weight.is_meta:
            nn.init.normal_(self.model.lm_head.weight, std=config.lm_head_init_std)
        if config.precision == "bf16":
            self.model.to(torch.bfloat16)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.shared.weight.dtype

    def autocast(self, device: torch.device):
        """bf16 autocast around a bf16 model (as LAVIS's Blip2T5), a no-op for float32 (also on
        the meta device, which ``torch.autocast`` rejects even when disabled)."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)


@dataclass
class Captions:
    """Generated captions of R regions: texts and scores [R] = exp(sequence log-prob)."""

    texts: list[str]
    scores: torch.Tensor


class LanguageDecoder(nn.Module):
    """Caption loss and generation from region tokens.

    Args:
        config: T5 sizes and text settings.
        region_width: D.
        tokenizer: T5-compatible tokenizer (pad 0, eos 1; appends </s>).
    """

    def __init__(self, config: LanguageConfig, region_width: int,
                 tokenizer: PreTrainedTokenizerBase):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.t5 = FrozenT5(config)
        self.proj = nn.Linear(region_width, config.d_model)
        self.memory = nn.Parameter(torch.zeros(config.d_model))

    def _tokens(self, texts: list[str], device: torch.device):
        return self.tokenizer(texts, padding="longest", truncation=True,
                              max_length=self.config.max_txt_len, return_tensors="pt").to(device)

    def encoder_inputs(self, region_tokens: torch.Tensor, control: list[str]
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """[R, Q, D] + R control strings -> inputs_embeds [R, Q + T, M] (float32), mask
        [R, Q + T].

        As the release's ``llm_forward``: the projection runs under the T5's autocast (bf16
        region tokens for a bf16 T5), the control-word embeddings plus the fp32 memory are fp32,
        and their concatenation stays fp32, so the T5 encoder's residual stream starts in fp32.
        """
        if len(control) != region_tokens.shape[0]:
            raise ValueError(f"{len(control)} control strings for {region_tokens.shape[0]} regions")
        with self.t5.autocast(region_tokens.device):
            regions = self.proj(region_tokens)
        words = self._tokens(control, region_tokens.device)
        embed = self.t5.model.get_input_embeddings()(words.input_ids).float() + self.memory
        inputs = torch.cat([regions.float(), embed], dim=1)
        region_mask = torch.ones(regions.shape[:2], dtype=torch.long, device=regions.device)
        return inputs, torch.cat([region_mask, words.attention_mask], dim=1)

    def loss(self, region_tokens: torch.Tensor, control: list[str], captions: list[str]
             ) -> torch.Tensor:
        """Teacher-forced cross-entropy of the captions, the mean over the caption tokens of
        the global batch: this rank's token sum over ``mean_count_per_rank`` of its tokens (on
        one process: the mean over this batch's tokens)."""
        inputs, mask = self.encoder_inputs(region_tokens, control)
        target = self._tokens(captions, region_tokens.device)
        labels = target.input_ids.masked_fill(target.attention_mask == 0, -100)
        with self.t5.autocast(region_tokens.device):
            out = self.t5.model(inputs_embeds=inputs, attention_mask=mask,
                                decoder_attention_mask=target.attention_mask, labels=labels)
        tokens = int(target.attention_mask.sum())
        return out.loss.float() * (tokens / mean_count_per_rank(tokens, region_tokens.device))

    @torch.no_grad()
    def generate(self, region_tokens: torch.Tensor, control: list[str],
                 settings: GenerationConfig) -> Captions:
        """Beam-search captions and their scores exp(sum of token log-probs)."""
        if region_tokens.shape[0] == 0:
            return Captions([], region_tokens.new_zeros(0))
        inputs, mask = self.encoder_inputs(region_tokens, control)
        with self.t5.autocast(region_tokens.device):
            out = self.t5.model.generate(
                inputs_embeds=inputs, attention_mask=mask, num_beams=settings.num_beams,
                max_new_tokens=settings.max_new_tokens, min_length=settings.min_length,
                repetition_penalty=settings.repetition_penalty,
                length_penalty=settings.length_penalty, do_sample=False,
                return_dict_in_generate=True, output_scores=True,
            )
        if settings.num_beams > 1:
            # length_penalty 0 makes the beam score the plain sum of log-probs.
            log_prob = out.sequences_scores
        else:
            steps = self.t5.model.compute_transition_scores(out.sequences, out.scores,
                                                            normalize_logits=True)
            log_prob = steps.masked_fill(~torch.isfinite(steps), 0).sum(dim=1)
        texts = self.tokenizer.batch_decode(out.sequences, skip_special_tokens=True)
        return Captions([t.strip() for t in texts], log_prob.float().exp())
