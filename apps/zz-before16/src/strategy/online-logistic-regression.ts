/**
 * Online logistic regression trained by stochastic gradient descent with L2 regularization:
 * `p = sigmoid(w·x + b)`, one `update(x, y)` per labelled sample. Allocation-free.
 */
export class OnlineLogisticRegression {
  readonly weights: Float64Array;
  bias = 0;
  /** Samples trained on. */
  samples = 0;

  constructor(
    readonly dimensions: number,
    private readonly learningRate = 0.05,
    private readonly l2 = 1e-4,
  ) {
    this.weights = new Float64Array(dimensions);
  }

  /** Probability of the positive class. */
  predict(x: ArrayLike<number>): number {
    let z = this.bias;
    for (let i = 0; i < this.dimensions; i++) z += (this.weights[i] as number) * (x[i] as number);
    return 1 / (1 + Math.exp(-z));
  }

  /** One SGD step on the log loss for label `y` (0 or 1); returns the prediction before the step. */
  update(x: ArrayLike<number>, y: number): number {
    const p = this.predict(x);
    const g = p - y;
    const lr = this.learningRate / Math.sqrt(1 + this.samples / 1000);
    for (let i = 0; i < this.dimensions; i++) {
      const w = this.weights[i] as number;
      this.weights[i] = w - lr * (g * (x[i] as number) + this.l2 * w);
    }
    this.bias -= lr * g;
    this.samples++;
    return p;
  }
}
