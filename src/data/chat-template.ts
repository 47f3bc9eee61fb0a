/**
 * Turning an SFT record into text segments, each marked trainable or not, so
 * the loss can cover only what the model should learn to say (the completion,
 * the assistant turns) and the EOS that ends it.
 */
import type { SftExample } from './formats.ts';

export interface ChatTemplate {
  /** text before a system / user / assistant turn's content */
  system: string;
  user: string;
  assistant: string;
  /** text after a system or user turn */
  turnEnd: string;
}

/** `User: …\nAssistant: …<EOS>`, the default chat format. */
export const DEFAULT_CHAT_TEMPLATE: ChatTemplate = {
  system: 'System: ',
  user: 'User: ',
  assistant: 'Assistant: ',
  turnEnd: '\n',
};

export interface Segment {
  text: string;
  /** counted in the loss (when prompts are masked) */
  trainable: boolean;
  /** an EOS token follows this segment's text */
  eos?: boolean;
}

export function sftSegments(example: SftExample, template: ChatTemplate = DEFAULT_CHAT_TEMPLATE): Segment[] {
  switch (example.kind) {
    case 'text':
      return [{ text: example.text, trainable: true, eos: true }];
    case 'prompt-completion':
      return [
        { text: example.prompt, trainable: false },
        { text: example.completion, trainable: true, eos: true },
      ];
    case 'messages':
      return example.messages.flatMap((m): Segment[] =>
        m.role === 'assistant'
          ? [
              { text: template.assistant, trainable: false },
              { text: m.content, trainable: true, eos: true },
            ]
          : [{ text: `${m.role === 'system' ? template.system : template.user}${m.content}${template.turnEnd}`, trainable: false }],
      );
  }
}

/** The text a model is given to answer a conversation: the turns so far, then the assistant prefix. */
export function chatPrompt(messages: SftExample & { kind: 'messages' }, template: ChatTemplate = DEFAULT_CHAT_TEMPLATE): string {
  const turns = messages.messages.map((m) =>
    m.role === 'assistant' ? `${template.assistant}${m.content}` : `${m.role === 'system' ? template.system : template.user}${m.content}${template.turnEnd}`,
  );
  return `${turns.join('')}${template.assistant}`;
}
